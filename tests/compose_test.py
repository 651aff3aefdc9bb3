#!/usr/bin/env python3
"""docker-compose.yml, checked without a Docker engine: `docker-compose config`
accepts it, and the stack it describes is the one scripts/local-stack.sh runs
in `make test`: the same stack.sh roles, the same topics, healthchecks and
start-up order for every service. docker-compose.dev-kafka.yml (the
development broker in place of Kafka, for `make compose-test`) is accepted on
top of it and changes only the broker. `make compose-test` runs the stack.

usage: tests/compose_test.py REPOSITORY_ROOT
"""
import re
import subprocess
import sys

import yaml  # python3-yaml, a dependency of Debian's docker-compose

root = sys.argv[1]
failures = []


def expect(condition, message):
    if not condition:
        failures.append(message)


def read(path):
    with open(f"{root}/{path}") as f:
        return f.read()


result = subprocess.run(["docker-compose", "-f", f"{root}/docker-compose.yml", "config"],
                        capture_output=True, text=True)
if result.returncode != 0:
    sys.exit(f"compose_test: docker-compose config failed: {result.stderr.strip()}")
services = yaml.safe_load(result.stdout)["services"]

# Kafka in KRaft mode from the Apache Kafka image, with a healthcheck.
kafka = services["kafka"]
expect(kafka["image"].startswith("apache/kafka:"), "kafka: not the Apache Kafka image")
expect("controller" in kafka["environment"]["KAFKA_PROCESS_ROLES"], "kafka: not in KRaft mode")
expect("healthcheck" in kafka, "kafka: no healthcheck")

# Every Sluice service runs one role of stack.sh from the image.
roles = set(re.findall(r"^  ([a-z-]+)\)$", read("scripts/stack.sh"), re.M))
sluice_roles = {}
for name, service in services.items():
    if service.get("image") != "sluice:latest":
        continue
    expect(service.get("entrypoint") == ["sluice-stack"], f"{name}: entrypoint is not sluice-stack")
    command = service.get("command", [])
    expect(len(command) == 1 and command[0] in roles, f"{name}: {command} is not a stack.sh role")
    sluice_roles[name] = command[0] if command else None
    expect("/checkpoints" in " ".join(service.get("volumes", [])),
           f"{name}: no shared checkpoint volume")

expected = {"jobmanager": "jobmanager", "taskmanager-1": "taskmanager",
            "taskmanager-2": "taskmanager", "generator": "generator", "demo-job": "demo-job",
            "reader": "reader", "check": "check"}
expect(sluice_roles == expected, f"Sluice services and roles: {sluice_roles}")

# The local stack starts the same roles (all but the reader and the check).
local = read("scripts/local-stack.sh")
local_roles = set(re.findall(r"start_role ([a-z-]+) ", local))
expect(local_roles == set(expected.values()) - {"reader", "check"},
       f"scripts/local-stack.sh starts roles {sorted(local_roles)}")

# The same topics and partitions in both.
init = services["kafka-init"]["command"][0]
compose_topics = set(re.findall(r"for topic in ([^;]*);", init)[0].split())
local_topics = set(re.findall(r"--topic ([a-z.-]+:\d+)", local))
expect(compose_topics and compose_topics == local_topics,
       f"topics: compose {sorted(compose_topics)}, local {sorted(local_topics)}")

# Start-up order: servers have healthchecks; everything else waits for them.
for name in ("jobmanager", "taskmanager-1", "taskmanager-2"):
    expect("healthcheck" in services[name], f"{name}: no healthcheck")
waits = {name: {dep: how["condition"] for dep, how in s.get("depends_on", {}).items()}
         for name, s in services.items()}
expect(waits["kafka-init"] == {"kafka": "service_healthy"}, f"kafka-init waits {waits['kafka-init']}")
for name in ("taskmanager-1", "taskmanager-2"):
    expect(waits[name] == {"jobmanager": "service_healthy"}, f"{name} waits {waits[name]}")
for name in ("generator", "reader"):
    expect(waits[name].get("kafka-init") == "service_completed_successfully",
           f"{name} does not wait for the topics")
expect(waits["demo-job"] == {"kafka-init": "service_completed_successfully",
                             "taskmanager-1": "service_healthy",
                             "taskmanager-2": "service_healthy"},
       f"demo-job waits {waits['demo-job']}")

# A task manager is healthy once registered (not when its port accepts);
# the generator's rate and duration come from the environment of `up`.
for name in ("taskmanager-1", "taskmanager-2"):
    expect(services[name]["healthcheck"]["test"] == ["CMD", "sluice-stack", "taskmanager-registered"],
           f"{name}: the healthcheck does not ask for its registration")
generator_env = services["generator"].get("environment", {})
expect(set(generator_env) >= {"GENERATOR_RATE", "GENERATOR_DURATION"},
       f"generator environment: {generator_env}")

# The dashboard and REST API are published; Prometheus (Debian's, built
# here) scrapes the job manager's and every task manager's /metrics, on the
# ports stack.sh gives them.
stack = read("scripts/stack.sh")
published = {(p.get("published"), p.get("target")) for p in services["jobmanager"].get("ports", [])}
expect((8081, 8081) in published, "jobmanager: the dashboard's port 8081 is not published")
expect('--rest-port "${REST_PORT:-8081}" --rest-bind "${REST_BIND:-0.0.0.0}"' in stack,
       "stack.sh: the job manager does not serve REST on 0.0.0.0:8081")
expect('--metrics-port "${METRICS_PORT:-9249}" --metrics-bind "${METRICS_BIND:-0.0.0.0}"' in stack,
       "stack.sh: task managers do not serve /metrics on 0.0.0.0:9249")
prometheus = services.get("prometheus", {})
expect(prometheus.get("build") is not None, "prometheus: not built from scripts/prometheus")
scrape = yaml.safe_load(read("scripts/prometheus/prometheus.yml"))
targets = {t for job in scrape["scrape_configs"] for c in job["static_configs"] for t in c["targets"]}
expect(targets == {"jobmanager:8081", "taskmanager-1:9249", "taskmanager-2:9249"},
       f"prometheus scrapes {sorted(targets)}")
expect("apt-get install -y --no-install-recommends prometheus" in
       read("scripts/prometheus/Dockerfile"), "prometheus: not Debian's package")

# The override: the same services, the broker replaced by the development
# broker's stack.sh role with the same topics, and every service that uses
# Kafka told where its bootstrap list is.
result = subprocess.run(["docker-compose", "-f", f"{root}/docker-compose.yml", "-f",
                         f"{root}/docker-compose.dev-kafka.yml", "config"],
                        capture_output=True, text=True)
expect(result.returncode == 0, f"the dev-kafka override: {result.stderr.strip()}")
if result.returncode == 0:
    dev = yaml.safe_load(result.stdout)["services"]
    expect(set(dev) == set(services), f"override services: {sorted(dev)}")
    expect(dev["kafka"]["image"] == "sluice:latest" and dev["kafka"]["command"] == ["dev-kafka"],
           "override: kafka is not the dev-kafka role")
    stack = read("scripts/stack.sh")
    dev_role = re.findall(r"^  dev-kafka\)(.*?);;", stack, re.M | re.S)[0]
    dev_topics = set(re.findall(r'--topic "?([a-z.$_-]+:\d+)', dev_role))
    dev_topics = {t.replace("$input_topic", "page-views").replace("$output_topic", "page-view-counts")
                  for t in dev_topics}
    expect(dev_topics == compose_topics, f"dev-kafka topics {sorted(dev_topics)}")
    for name in ("taskmanager-1", "taskmanager-2", "generator", "demo-job", "reader", "check"):
        env = dev[name].get("environment", {})
        expect({"DEV_KAFKA_BOOTSTRAP_FILE", "DEV_KAFKA_HOST"} <= set(env),
               f"override: {name} does not know the development broker")

for failure in failures:
    print(f"compose_test: {failure}", file=sys.stderr)
sys.exit(1 if failures else 0)

#!/usr/bin/env python3
"""docker-compose.yml, checked without a Docker engine: `docker-compose config`
accepts it, and the stack it describes is the one scripts/local-stack.sh runs
in `make test`: the same stack.sh roles, the same topics, healthchecks and
start-up order for every service.

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

for failure in failures:
    print(f"compose_test: {failure}", file=sys.stderr)
sys.exit(1 if failures else 0)

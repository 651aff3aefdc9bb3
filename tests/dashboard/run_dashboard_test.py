#!/usr/bin/env python3
"""The web dashboard on a real cluster: starts a job manager with its REST
API and two task managers, submits the demo job, checks the job manager's
Prometheus metrics, and runs dashboard_test.mjs in headless Chromium, which
kills the second task manager to see the restart on the page. Then cancels
the job over REST and stops every process.

usage: run_dashboard_test.py SLUICE REPOSITORY_ROOT [--screenshots DIR] [--web-dir DIR]
                             [--timeout SECONDS]

Exits with the browser test's code; 1 when the cluster or the REST checks
around it fail; 77 (skipped) when Chromium, node or web/node_modules is
missing. CHROMIUM overrides the browser (default /usr/bin/chromium).
"""
import argparse
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

kSkip = 77
kStartTimeout = 30.0
kRunningTimeout = 60.0
kBrowserTestTimeout = 300.0
kStopTimeout = 10.0

# Requests go straight to the loopback address, whatever proxy the
# environment names.
kOpener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Failure(Exception):
    """A check of the driver failed; the message says which."""


class Process:
    """A child process whose stdout is read line by line on a thread, so a
    line can be awaited with a deadline; stderr goes to a log file."""

    def __init__(self, name, argv, log_dir):
        self.name = name
        self.log_path = os.path.join(log_dir, f"{name}.log")
        self._log = open(self.log_path, "wb")
        self.popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=self._log)
        self._lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.popen.stdout:
            self._lines.put(raw.decode(errors="replace").rstrip("\n"))
        self._lines.put(None)

    def read_line(self, timeout):
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise Failure(f"{self.name}: printed nothing within {timeout:.0f} s") from None
        if line is None:
            raise Failure(f"{self.name}: exited with {self.popen.wait()} before printing its ports")
        return line

    def read_port(self, what, timeout):
        line = self.read_line(timeout).strip()
        if not line.isdigit() or not 0 < int(line) < 65536:
            raise Failure(f"{self.name}: printed {line!r} where its {what} port was expected")
        return int(line)

    @property
    def pid(self):
        return self.popen.pid

    def log_tail(self, lines=15):
        self._log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace").splitlines()[-lines:]

    def stop(self):
        """SIGTERM, then SIGKILL when it has not exited within kStopTimeout."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=kStopTimeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=kStopTimeout)
        self._log.close()


def http(method, url, body=None, timeout=5.0):
    """(status, text) of one request; a connection failure is status 0."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with kOpener.open(request, timeout=timeout) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")
    except (urllib.error.URLError, OSError) as error:
        return 0, str(error)


def wait_for(what, timeout, probe):
    """Calls probe() until it returns a true value (which is returned) or the
    timeout passes; probe returns (value, description of the last state)."""
    deadline = time.monotonic() + timeout
    last = "never asked"
    while True:
        value, last = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise Failure(f"{what}: not within {timeout:.0f} s (last: {last})")
        time.sleep(0.2)  # sleep-ok: the poll interval of a bounded wait


def get_json(url):
    status, text = http("GET", url)
    if status != 200:
        return None, f"GET {url} answered {status}: {text.strip()[:200]}"
    try:
        return json.loads(text), ""
    except ValueError:
        return None, f"GET {url} answered no JSON: {text[:200]!r}"


def prerequisites(root):
    """The reason the test cannot run here, or None."""
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not os.access(chromium, os.X_OK):
        return f"{chromium} is missing: apt-get install -y --no-install-recommends chromium"
    if shutil.which("node") is None:
        return "node is missing: apt-get install -y nodejs npm"
    if not os.path.isfile(os.path.join(root, "web", "node_modules", "playwright-core", "package.json")):
        return "web/node_modules/playwright-core is missing: run `npm install` in web/"
    return None


def run(args, work, processes):
    sluice = args.sluice
    command = [sluice, "jobmanager", "--port", "0", "--rest-port", "0",
               "--checkpoint-dir", os.path.join(work, "chk")]
    if args.web_dir:
        command += ["--web-dir", os.path.abspath(args.web_dir)]
    jobmanager = Process("jobmanager", command, work)
    processes.append(jobmanager)
    control_port = jobmanager.read_port("control", kStartTimeout)
    rest_port = jobmanager.read_port("REST", kStartTimeout)
    rest = f"http://127.0.0.1:{rest_port}/"

    taskmanagers = {}
    metrics_ports = {}
    for name in ("tm-1", "tm-2"):
        tm = Process(name, [sluice, "taskmanager", "--jobmanager", f"127.0.0.1:{control_port}",
                            "--slots", "2", "--id", name, "--metrics-port", "0"], work)
        processes.append(tm)
        taskmanagers[name] = tm
        tm.read_port("data", kStartTimeout)
        metrics_ports[name] = tm.read_port("metrics", kStartTimeout)

    status, text = http("GET", rest)
    if status != 200 or "<html" not in text.lower():
        raise Failure(f"GET / (the dashboard) answered {status}: {text.strip()[:200]}")

    def registered():
        overview, problem = get_json(rest + "overview")
        if overview is None:
            return None, problem
        return overview.get("taskmanagers") == 2, f"/overview: {overview}"
    wait_for("both task managers registered", kStartTimeout, registered)

    submit = subprocess.run(
        [sluice, "submit", "--jobmanager", f"127.0.0.1:{control_port}", "--parallelism", "2",
         "--checkpoint-interval", "1s", "--restart-delay", "200ms", "demo",
         "--set", "duration=120s", "--set", "rate=2000",
         "--set", f"output={os.path.join(work, 'out')}", "--set", "sample=0"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=kStartTimeout)
    lines = submit.stdout.split()
    if submit.returncode != 0 or not lines:
        raise Failure(f"submit: exit {submit.returncode}: {submit.stderr.strip()[-300:]}")
    job = lines[-1]

    def running():
        answer, problem = get_json(rest + f"jobs/{job}")
        if answer is None:
            return None, problem
        return answer.get("state") == "running", f"state {answer.get('state')!r}, message {answer.get('message')!r}"
    wait_for(f"job {job} running", kRunningTimeout, running)

    def records_out_metric():
        status, text = http("GET", rest + "metrics")
        if status != 200:
            return None, f"GET /metrics answered {status}"
        return "sluice_numRecordsOut" in text, f"{len(text)} characters without sluice_numRecordsOut"
    wait_for("job manager /metrics with sluice_numRecordsOut", kStartTimeout, records_out_metric)
    for name, port in metrics_ports.items():
        status, text = http("GET", f"http://127.0.0.1:{port}/metrics")
        if status != 200:
            raise Failure(f"{name} /metrics on port {port}: answered {status}: {text.strip()[:200]}")

    command = ["node", os.path.join(args.root, "tests", "dashboard", "dashboard_test.mjs"),
               "--url", rest, "--job", job, "--kill-pid", str(taskmanagers["tm-2"].pid)]
    if args.screenshots:
        command += ["--screenshots", os.path.abspath(args.screenshots)]
    if args.timeout:
        command += ["--timeout", str(args.timeout)]
    try:
        browser = subprocess.run(command, cwd=args.root, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                 timeout=kBrowserTestTimeout)
        output, code = browser.stdout, browser.returncode
    except subprocess.TimeoutExpired as expired:
        partial = expired.stdout.decode(errors="replace") if isinstance(expired.stdout, bytes) else (expired.stdout or "")
        output, code = partial + f"dashboard_test: FAILED still running after {kBrowserTestTimeout:.0f} s\n", 1

    return output, code, cancel(rest, job)


def cancel(rest, job):
    """Cancels the job over REST and waits until it says so; the problem, or None."""
    status, text = http("POST", rest + f"jobs/{job}/cancel")
    if status != 202:
        return f"POST /jobs/{job}/cancel answered {status}: {text.strip()[:200]}"

    def cancelled():
        answer, problem = get_json(rest + f"jobs/{job}")
        if answer is None:
            return None, problem
        return answer.get("state") == "cancelled", f"state {answer.get('state')!r}"
    try:
        wait_for(f"job {job} cancelled", kStartTimeout, cancelled)
    except Failure as failure:
        return str(failure)
    return None


def run_and_report(args, work, processes):
    """Runs the test and prints its outcome; the exit code."""
    try:
        try:
            output, code, problem = run(args, work, processes)
        except subprocess.TimeoutExpired as expired:
            raise Failure(f"sluice {expired.cmd[1]}: no answer within {expired.timeout:.0f} s") from None
        print(output, end="")
        if problem is not None:
            print(f"dashboard_test: FAILED {problem}")
            code = 1
    except Failure as failure:
        print(f"dashboard_test: FAILED {failure}")
        code = 1
    if code != 0:
        for process in processes:
            for line in process.log_tail():
                print(f"  {process.name}: {line}")
    return code


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sluice", help="the sluice binary")
    parser.add_argument("root", help="the repository root")
    parser.add_argument("--screenshots", help="directory for the browser test's screenshots")
    parser.add_argument("--web-dir", help="the dashboard's files (default: those installed next to SLUICE)")
    parser.add_argument("--timeout", type=float, help="seconds each browser check may wait (default 30)")
    args = parser.parse_args()
    args.sluice = os.path.abspath(args.sluice)
    args.root = os.path.abspath(args.root)

    missing = prerequisites(args.root)
    if missing:
        print(f"dashboard_test: skipped: {missing}")
        return kSkip

    # A SIGTERM (a test runner's timeout) still stops the cluster.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    work = tempfile.mkdtemp(prefix="sluice-dashboard-")
    processes = []
    try:
        return run_and_report(args, work, processes)
    finally:
        for process in reversed(processes):
            process.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

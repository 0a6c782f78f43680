"""The perf pods' script behind the start gate (manifests.PERF_SCRIPT), run by a real /bin/sh.

No Kubernetes here: the script runs in a private mount namespace (unshare: needs root) whose
/etc, /tmp and /dev are the test's own, laid out as a pod's are (the client Secret's file,
the downward API file of the start annotation, /dev/termination-log), with a stand-in tool
that behaves as kafkalab's generator at its barrier (prints the barrier line, reads "go" on
stdin) or as a tool that just runs. The test writes "go" into the file as the kubelet does
when the flow patches the pod.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from kafkalab.kafka.loadgen import BARRIER_LINE
from kafkalab.platforms.kubernetes import manifests as m

# Stands in for the generator: ready line, waits for "go" on stdin, then its "load".
READS_GO = f"""#!/bin/sh
echo "{BARRIER_LINE}"
read -r word
[ "$word" = go ] || {{ echo "kafkalab-error: released with '$word'"; exit 3; }}
echo "started at $(date +%s.%N)"
echo "kafkalab-summary {{\\"args\\": \\"$*\\"}}"
exit "${{FAKE_EXIT:-0}}"
"""
# Stands in for a tool that knows nothing of the barrier (ProducerPerformance without StartBarrier).
JUST_RUNS = """#!/bin/sh
echo "started at $(date +%s.%N)"
echo "kafkalab-summary {}"
"""


class Pod:
    """A pod's file system around the script, and the script running in it."""

    def __init__(self, root: Path, tool: str, *, reads_go: bool, env: dict[str, str] | None = None) -> None:
        self.root = root
        for d in ("etc/kafkalab/client", "etc/kafkalab-start", "tmp", "dev"):
            (root / d).mkdir(parents=True, exist_ok=True)
        (root / "etc/kafkalab/client/client.properties").write_text("acks=1\n")
        self.go_file = root / "etc/kafkalab-start/go"
        self.go_file.write_text("")  # the annotation is not there yet: an empty file
        (root / "dev/null").touch()
        (root / "dev/termination-log").touch()
        tool_path = root / "tmp/tool"  # /tmp/tool inside
        tool_path.write_text(tool)
        tool_path.chmod(0o755)
        # /tmp last: the test's directories are under it
        setup = (f"mount --bind /dev/null {root}/dev/null && mount --rbind {root}/dev /dev && "
                 f"mount --bind {root}/etc /etc && mount --bind {root}/tmp /tmp && "
                 f'exec /bin/sh -c "$0" kafkalab-perf --topic t')
        env = {"PATH": "/usr/bin:/bin", "HOME": "/", "KAFKALAB_TOOL": "/tmp/tool", "KAFKALAB_CLIENT_PREFIX": "c",
               "KAFKALAB_RESULT_LINES": "^kafkalab-summary ", "KAFKALAB_BARRIER_LINE": BARRIER_LINE,
               "KAFKALAB_TOOL_READS_GO": "1" if reads_go else "0", "JOB_COMPLETION_INDEX": "2", **(env or {})}
        self.proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", setup,
                                      m.PERF_SCRIPT], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)

    def say_go(self) -> float:
        self.go_file.write_text("go")
        return time.time()

    def finish(self, timeout_s: float = 20) -> tuple[int, str]:
        try:
            out, _ = self.proc.communicate(timeout=timeout_s)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode, out

    @property
    def termination_message(self) -> str:
        return (self.root / "dev/termination-log").read_text()


def _started_at(output: str) -> float:
    return float(next(line for line in output.splitlines() if line.startswith("started at ")).split()[-1])


def test_a_tool_that_reads_go_starts_only_when_the_annotation_says_go(tmp_path):
    pod = Pod(tmp_path, READS_GO, reads_go=True)
    time.sleep(1.5)
    assert pod.proc.poll() is None  # still waiting at the barrier
    went = pod.say_go()
    code, out = pod.finish()
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == BARRIER_LINE  # ready first: what the flow waits for in the log
    assert 0 <= _started_at(out) - went < 1.0  # the script polls every 0.1 s
    assert pod.termination_message == 'kafkalab-summary {"args": "--topic t"}\n'
    assert (tmp_path / "tmp/kafkalab/client.properties").read_text() == "acks=1\nclient.id=c-2\n"


def test_the_tools_exit_code_and_result_lines_are_the_pods(tmp_path):
    pod = Pod(tmp_path, READS_GO, reads_go=True, env={"FAKE_EXIT": "7"})
    pod.say_go()
    code, out = pod.finish()
    assert code == 7, out
    assert pod.termination_message.startswith("kafkalab-summary ")


def test_a_tool_that_died_before_go_ends_the_pod_with_its_own_exit_code(tmp_path):
    pod = Pod(tmp_path, "#!/bin/sh\necho 'kafkalab-error: no brokers'\nexit 5\n", reads_go=True)
    code, out = pod.finish(timeout_s=10)  # no go ever: the script does not wait for one
    assert code == 5 and "kafkalab-error: no brokers" in out


def test_a_tool_without_a_barrier_starts_after_go(tmp_path):
    pod = Pod(tmp_path, JUST_RUNS, reads_go=False)
    time.sleep(1.0)
    assert pod.proc.poll() is None
    went = pod.say_go()
    code, out = pod.finish()
    assert code == 0, out
    assert out.splitlines()[0] == BARRIER_LINE  # printed by the script itself
    assert _started_at(out) >= went

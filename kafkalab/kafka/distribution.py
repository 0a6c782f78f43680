"""The Kafka that kafkalab runs: jars from Maven Central (or KAFKA_HOME), and java command lines.

The jars are fetched once with `mvn dependency:copy-dependencies` from the pom kept in
`kafkalab/java/pom.xml` into the user cache (`<cache>/kafka/<version>/libs`); later runs
find them there and fetch nothing. `KAFKA_HOME` pointing at an unpacked Kafka (its
`libs/`) is used instead when set.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path

from kafkalab.core.errors import EnvironmentProblem
from kafkalab.core.paths import cache_dir, write_atomically

DEFAULT_KAFKA_VERSION = "4.4.0"
MIN_JAVA = 17

BROKER_MAIN = "kafka.Kafka"
STORAGE_TOOL_MAIN = "kafka.tools.StorageTool"
BROKER_CONFIG_DOC_MAIN = "kafka.server.KafkaConfig"  # prints the broker config reference

# The jars without which nothing runs; a distribution lacking one is refused by name.
REQUIRED_JARS = ("kafka_2.13", "kafka-tools", "kafka-clients", "kafka-server", "kafka-metadata", "kafka-raft")

_JAR_VERSION = re.compile(r"^kafka_2\.13-(\d+\.\d+\.\d+[^/]*)\.jar$")


def java_executable() -> str:
    """The java command: $JAVA_HOME/bin/java, else the one on PATH; refused below Java 17."""
    home = os.environ.get("JAVA_HOME")
    candidate = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not candidate or not Path(candidate).exists():
        raise EnvironmentProblem(f"Java {MIN_JAVA}+ is required and no `java` was found (set JAVA_HOME or add java to PATH)")
    return candidate


@dataclass(frozen=True)
class JavaCheck:
    executable: str
    major: int


def check_java() -> JavaCheck:
    exe = java_executable()
    try:
        out = subprocess.run([exe, "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EnvironmentProblem(f"`{exe} -version` failed: {exc}") from exc
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        raise EnvironmentProblem(f"could not read the Java version from `{exe} -version`: {out.strip()[:200]}")
    major = int(match.group(1))
    if major == 1:  # "1.8.0_x" style
        major = int(match.group(2) or 0)
    if major < MIN_JAVA:
        raise EnvironmentProblem(f"Java {MIN_JAVA}+ is required, found Java {major} at {exe}")
    return JavaCheck(exe, major)


@dataclass(frozen=True)
class KafkaDistribution:
    """A directory of Kafka jars and how to start its main classes."""

    version: str
    libs: Path
    java: str

    @cached_property
    def classpath(self) -> str:
        return str(self.libs / "*")

    @property
    def config_dir(self) -> Path:
        """Cache for what we learn from this distribution (its broker config names)."""
        return self.libs.parent

    def java_command(
        self,
        main_class: str,
        args: Sequence[str],
        *,
        heap_mb: int,
        log_config: str = "tools",
        jvm_options: Sequence[str] = (),
        extra_classpath: Sequence[Path] = (),
        class_archive: str | None = None,
    ) -> list[str]:
        """The command line for one JVM: heap, GC settings as Kafka's own scripts use, log4j2.

        `class_archive` ("broker" or "tools") starts the JVM from that class-data archive
        when one was made (see kafkalab/platforms/local/class_archives.py): less class loading at start-up.
        """
        gc = ["-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:InitiatingHeapOccupancyPercent=35"]
        archive = self.class_archive(class_archive) if class_archive else None
        sharing = [f"-XX:SharedArchiveFile={archive}", "-Xshare:auto", "-Xlog:cds=off", "-Xlog:cds+dynamic=off"] \
            if archive is not None and archive.exists() else []
        return [
            self.java,
            f"-Xms{heap_mb}m",
            f"-Xmx{heap_mb}m",
            *gc,
            *sharing,
            "-Djava.awt.headless=true",
            # The perf tools format numbers with the default locale; results are parsed as en-US.
            "-Duser.language=en",
            "-Duser.country=US",
            f"-Dlog4j2.configurationFile={log4j_config(log_config)}",
            *jvm_options,
            "-cp",
            os.pathsep.join([self.classpath, *map(str, extra_classpath)]),
            main_class,
            *args,
        ]

    def class_archive(self, kind: str) -> Path:
        """Where the class-data archive of `kind` ("broker", "tools") lives for these jars."""
        return self.config_dir / f"classes-{kind}.jsa"

    def broker_config_names(self) -> frozenset[str]:
        """Every broker config this Kafka version knows, as Kafka itself documents them.

        Read once from `kafka.server.KafkaConfig` (it prints its config reference) and cached
        beside the jars, so that settings Kafka 4 no longer has can be told apart.
        """
        cache = self.config_dir / "broker-config-names.txt"
        if cache.exists():
            return frozenset(cache.read_text().split())
        cmd = self.java_command(BROKER_CONFIG_DOC_MAIN, [], heap_mb=128)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        names = sorted(set(re.findall(r'id="brokerconfigs_([^"]+)"', proc.stdout)))
        if proc.returncode != 0 or len(names) < 50:
            raise EnvironmentProblem(f"could not read the broker config names of Kafka {self.version} from {self.libs}")
        write_atomically(cache, "\n".join(names) + "\n")
        return frozenset(names)

    def start_barrier(self) -> Path | None:
        """A directory holding the compiled StartBarrier class, or None without a JDK's javac.

        See kafkalab/java/StartBarrier.java.
        """
        return self.compiled_helper("StartBarrier", against_kafka=False)

    def compiled_helper(self, class_name: str, *, against_kafka: bool) -> Path | None:
        """A directory holding kafkalab/java/<class_name>.java compiled, or None without javac.

        Compiled once per source version (and Kafka version, when it is compiled against
        Kafka's classes) into the cache.
        """
        source = Path(str(resources.files("kafkalab.java").joinpath(f"{class_name}.java")))
        digest = hashlib.sha256(source.read_bytes()).hexdigest()[:12]
        target = cache_dir() / "java-helpers" / (f"{digest}-kafka-{self.version}" if against_kafka else digest)
        if (target / f"{class_name}.class").exists():
            return target
        javac = Path(self.java).resolve().parent / "javac"
        javac_cmd = str(javac) if javac.exists() else shutil.which("javac")
        if not javac_cmd:
            return None
        target.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f"{class_name}-", dir=target.parent))
        classpath = ["-cp", self.classpath] if against_kafka else []
        proc = subprocess.run([javac_cmd, "--release", "17", *classpath, "-d", str(staging), str(source)],
                              capture_output=True, text=True, timeout=180)
        if proc.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            return None
        (staging / f"{class_name}.class").replace(target / f"{class_name}.class")
        shutil.rmtree(staging, ignore_errors=True)
        return target

    def has_class(self, class_name: str) -> bool:
        """Whether a class is on this distribution's classpath (e.g. a metric reporter)."""
        import zipfile

        entry = class_name.replace(".", "/") + ".class"
        for jar in self.libs.glob("*.jar"):
            try:
                with zipfile.ZipFile(jar) as zf:
                    if entry in zf.NameToInfo:
                        return True
            except zipfile.BadZipFile:
                continue
        return False


def log4j_config(kind: str) -> Path:
    """The log4j2 config shipped with kafkalab: `broker` (INFO to stdout) or `tools` (WARN to stderr)."""
    return Path(str(resources.files("kafkalab.java").joinpath(f"log4j2-{kind}.properties")))


def check_libs(libs: Path) -> str:
    """Validate a libs directory; return the Kafka version its jars carry."""
    if not libs.is_dir():
        raise EnvironmentProblem(f"Kafka libs directory not found: {libs}")
    names = [p.name for p in libs.glob("*.jar")]
    for required in REQUIRED_JARS:
        if not any(re.match(rf"^{re.escape(required)}-\d", n) for n in names):
            raise EnvironmentProblem(f"Kafka distribution at {libs} lacks the {required} jar")
    versions = [m.group(1) for n in names if (m := _JAR_VERSION.match(n))]
    if not versions:
        raise EnvironmentProblem(f"Kafka distribution at {libs} has no kafka_2.13-<version>.jar")
    version = versions[0]
    if not version.startswith("4."):
        raise EnvironmentProblem(f"kafkalab needs Apache Kafka 4.x (KRaft); {libs} holds Kafka {version}")
    return version


def resolve(version: str | None = None, *, on_progress: Callable[[str], None] | None = None) -> KafkaDistribution:
    """The Kafka to run: KAFKA_HOME when set, else the cached jars of `version`, fetched if missing."""
    java = check_java().executable
    kafka_home = os.environ.get("KAFKA_HOME")
    if kafka_home:
        libs = Path(kafka_home) / "libs"
        found = check_libs(libs)
        if version and found != version:
            raise EnvironmentProblem(f"KAFKA_HOME={kafka_home} holds Kafka {found}, the spec asks for {version}")
        return KafkaDistribution(found, libs, java)
    version = version or DEFAULT_KAFKA_VERSION
    libs = cache_dir() / "kafka" / version / "libs"
    if not (libs / ".complete").exists():
        fetch(version, libs, on_progress=on_progress)
    check_libs(libs)
    return KafkaDistribution(version, libs, java)


def fetch(version: str, libs: Path, *, on_progress: Callable[[str], None] | None = None) -> None:
    """Copy Kafka `version` and its runtime dependencies from Maven into `libs`, atomically."""
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise EnvironmentProblem(f"kafka_version must look like 4.4.0, got {version!r}")
    mvn = shutil.which("mvn")
    if not mvn:
        raise EnvironmentProblem("Maven (`mvn`) is required to fetch the Kafka jars; install it or set KAFKA_HOME")
    libs.parent.mkdir(parents=True, exist_ok=True)
    with open(libs.parent / ".fetch.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two first runs at once fetch once
        if (libs / ".complete").exists():
            return
        if on_progress:
            on_progress(f"fetching Apache Kafka {version} jars with Maven into {libs} (first run only)")
        pom = Path(str(resources.files("kafkalab.java").joinpath("pom.xml")))
        staging = Path(tempfile.mkdtemp(prefix="libs-", dir=libs.parent))
        staging.chmod(0o755)  # mkdtemp makes it private; the jars are for every user of the cache
        cmd = [
            mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
            f"-Dkafka.version={version}", f"-DoutputDirectory={staging}", "-DincludeScope=runtime",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            detail = next((ln for ln in proc.stdout.splitlines() + proc.stderr.splitlines() if "ERROR" in ln), "")
            raise EnvironmentProblem(f"Maven could not fetch Apache Kafka {version}: {detail.strip()[:300] or 'mvn exited ' + str(proc.returncode)}")
        check_libs(staging)
        (staging / ".complete").write_text(version + "\n")
        if libs.exists():
            shutil.rmtree(libs)
        staging.rename(libs)

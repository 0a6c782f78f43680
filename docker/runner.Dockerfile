# The flow runner image for the Kubernetes work pool (deployments/kubernetes/): kafkalab,
# Prefect, Java 17 and the Kafka jars, fetched at build time with Maven from the pom in the
# repo, so that a flow run starts without downloading anything.
#
# Build from the project root (the build args pin every version that matters):
#
#   docker build -f docker/runner.Dockerfile -t kafkalab-runner:0.1.0 \
#       --build-arg KAFKA_VERSION=4.4.0 --build-arg PREFECT_VERSION=3.9.1 .
#
# and push it where the cluster pulls from (README, "Flows on Kubernetes"). With
# `platform: kubernetes` the brokers, controllers and perf-test Jobs run kafkalab's Kafka
# image (docker/kafka.Dockerfile, or `make kube-images` locally); this image only runs the flow.
#
# Inside, the project lives in /opt/kafkalab (the deployments' working directory: specs in
# experiments/ resolve there), jars in /opt/kafkalab-cache, run data in /var/lib/kafkalab.

ARG PYTHON_VERSION=3.11
ARG DEBIAN_RELEASE=bookworm
FROM python:${PYTHON_VERSION}-slim-${DEBIAN_RELEASE}

ARG KAFKA_VERSION=4.4.0
ARG PREFECT_VERSION=3.9.1
ARG PREFECT_KUBERNETES_VERSION=0.8.0
# Debian's OpenJDK 17 (a JDK: kafkalab compiles its producer start barrier with javac) and
# Maven (only for the build: removed below once the jars are in the cache).
ARG JDK_PACKAGE=openjdk-17-jdk-headless

ENV KAFKALAB_CACHE_DIR=/opt/kafkalab-cache \
    KAFKALAB_DATA_DIR=/var/lib/kafkalab \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    PREFECT_LOGGING_LOG_PRINTS=true \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${JDK_PACKAGE} maven \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/kafkalab
COPY pyproject.toml README.md ./
COPY kafkalab ./kafkalab
COPY flows ./flows
COPY tasks ./tasks
COPY schema ./schema
COPY experiments ./experiments
COPY deployments ./deployments

RUN pip install "prefect==${PREFECT_VERSION}" "prefect-kubernetes==${PREFECT_KUBERNETES_VERSION}" -e .

# The Kafka jars (Maven, once), the broker config names Kafka prints, the start barrier class.
RUN kafkalab kafka --version "${KAFKA_VERSION}" \
 && python -c "from kafkalab import distribution as d; k = d.resolve('${KAFKA_VERSION}'); k.broker_config_names(); k.start_barrier()" \
 && rm -rf /root/.m2 \
 && apt-get purge -y maven && apt-get autoremove -y \
 && rm -rf /var/lib/apt/lists/*

# An unprivileged user (the embedded PostgreSQL refuses root; runs need no privilege).
RUN useradd --uid 10001 --create-home --shell /usr/sbin/nologin kafkalab \
 && mkdir -p "${KAFKALAB_DATA_DIR}" \
 && chown -R kafkalab:kafkalab "${KAFKALAB_DATA_DIR}" "${KAFKALAB_CACHE_DIR}"
USER 10001

# The Kubernetes worker sets the command (`prefect flow-run execute`); this default lets the
# image be tried by hand: docker run --rm kafkalab-runner:0.1.0 kafkalab run experiments/quickstart.yaml
CMD ["kafkalab", "--help"]

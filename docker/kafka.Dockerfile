# kafkalab's Kafka image for clusters that pull from a registry: the image `make kube-images`
# builds locally for the test bed (kubetestbed/images.py), from the same parts: Debian's
# headless JRE, the Kafka jars from Maven Central, kafkalab's load generator and start
# barrier, and the start scripts of docker/kafka/ at apache/kafka's paths (/opt/kafka/bin),
# which the pods' commands call (kafkalab/platforms/kubernetes/manifests.py).
#
# Build from the project root, push, and name it in the spec (docs/kubernetes.md, "Images"):
#
#   docker build -f docker/kafka.Dockerfile --build-arg KAFKA_VERSION=4.4.0 \
#       -t registry.example.com/kafkalab/kafka:4.4.0 .
#   docker push registry.example.com/kafkalab/kafka:4.4.0
#   # spec: cluster.kubernetes.image: registry.example.com/kafkalab/kafka:4.4.0

ARG DEBIAN_RELEASE=bookworm

# --- the Java parts, built as kafkalab builds them on a user's machine ------------------------
FROM debian:${DEBIAN_RELEASE} AS java-parts
ARG KAFKA_VERSION=4.4.0
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openjdk-17-jdk-headless maven \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY kafkalab/java ./java
# The Kafka jars (kafkalab.kafka.distribution.fetch), the load generator
# (kafkalab.kafka.loadgen.jar), the start barrier (kafkalab/java/StartBarrier.java) and the
# brokers' loopback-only JMX (kafkalab/java/LoopbackJmx.java).
RUN mvn -q -B -f java/pom.xml dependency:copy-dependencies -Dkafka.version="${KAFKA_VERSION}" \
        -DoutputDirectory=/out/kafka/libs -DincludeScope=runtime \
 && mvn -q -B -f java/loadgen/pom.xml package -Dkafka.version="${KAFKA_VERSION}" \
 && mkdir -p /out/kafkalab/lib /out/kafkalab/classes \
 && cp java/loadgen/target/kafkalab-loadgen.jar /out/kafkalab/lib/ \
 && javac --release 17 -d /out/kafkalab/classes java/StartBarrier.java java/LoopbackJmx.java

# --- the image ---------------------------------------------------------------------------------
FROM debian:${DEBIAN_RELEASE}-slim
ARG KAFKA_VERSION=4.4.0
# slim leaves out /usr/share/man, and the JRE's update-alternatives fails without man1.
RUN mkdir -p /usr/share/man/man1 \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openjdk-17-jre-headless \
 && rm -rf /var/lib/apt/lists/*
# uid 1000, as the pods' securityContext runs it; it owns the data volume's mount point.
RUN groupadd --gid 1000 kafka \
 && useradd --uid 1000 --gid 1000 --home-dir /var/lib/kafka --no-create-home --shell /usr/sbin/nologin kafka \
 && mkdir -p /var/lib/kafka/data && chown -R 1000:1000 /var/lib/kafka
COPY --from=java-parts /out/kafka/libs/ /opt/kafka/libs/
COPY kafkalab/java/log4j2-broker.properties kafkalab/java/log4j2-tools.properties /opt/kafka/config/
COPY docker/kafka/bin/ /opt/kafka/bin/
COPY --from=java-parts /out/kafkalab/ /opt/kafkalab/
COPY docker/kafka/kafkalab-bin/ /opt/kafkalab/bin/
ENV PATH=/opt/kafka/bin:/opt/kafkalab/bin:/usr/local/bin:/usr/bin:/bin \
    KAFKA_HOME=/opt/kafka \
    KAFKALAB_HOME=/opt/kafkalab
LABEL org.opencontainers.image.title="kafkalab Kafka" \
      org.opencontainers.image.version="${KAFKA_VERSION}"
USER 1000:1000
WORKDIR /var/lib/kafka
CMD ["java", "-version"]

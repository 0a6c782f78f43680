# The pod sandbox ("pause") image, compiled from the Kubernetes source as `make kube-images`
# does for the test bed (kubetestbed/images.py): build/pause/linux/pause.c with the flags of
# build/pause/Makefile, run as registry.k8s.io/pause runs it. A cluster with a registry
# normally uses registry.k8s.io/pause; this is for nodes that may pull only from yours.
#
#   docker build -f docker/pause.Dockerfile --build-arg K8S_VERSION=v1.37.2 \
#       -t registry.example.com/kafkalab/pause:v1.37.2 .
#   docker push registry.example.com/kafkalab/pause:v1.37.2
#   # then point the container runtime's sandbox image at it (containerd: sandbox_image)

ARG K8S_VERSION=v1.37.2

FROM debian:bookworm AS build
ARG K8S_VERSION
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
ADD https://raw.githubusercontent.com/kubernetes/kubernetes/${K8S_VERSION}/build/pause/linux/pause.c /src/pause.c
RUN gcc -Os -Wall -Werror -static -DVERSION="${K8S_VERSION}" -o /pause /src/pause.c

FROM scratch
COPY --from=build /pause /pause
USER 65535:65535
ENTRYPOINT ["/pause"]

# kafkalab: two commands do all the set-up on a fresh machine.
#   make quickstart   venv, dependencies, Kafka jars, then runs experiments/quickstart.yaml
#   make test         the whole test suite (what CI runs)
# Prerequisites: Python 3.11+, Java 17+, Maven, Go (for the Kubernetes test bed), make.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: quickstart test test-fast lint install kafka chromium bench clean-venv

quickstart: kafka
	$(BIN)/kafkalab run experiments/quickstart.yaml

test: kafka chromium kube-testbed kube-nodes kube-images kube-runner-image lint
	$(BIN)/python -m pytest -q -p no:cacheprovider --basetemp=$(CURDIR)/.pytest-tmp tests

# The fast loop: no brokers, no servers, no control plane (about a minute).
test-fast: install lint
	$(BIN)/python -m pytest -q -p no:cacheprovider --basetemp=$(CURDIR)/.pytest-tmp -m "not kafka and not server and not kube" tests

# The layers of the engine (pyproject.toml [tool.importlinter]).
lint: install
	$(BIN)/lint-imports

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "kafkalab needs Python 3.11+, $(PYTHON) is " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	@touch $(STAMP)

# The Kafka jars, fetched once with Maven into the user cache (or KAFKA_HOME when set).
kafka: install
	$(BIN)/kafkalab kafka

# Debian's Chromium, for the tests that look at pages (report screenshots). Installed only
# when missing; needs root or sudo.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
chromium:
	@if [ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1; then :; else \
	  echo "installing Debian's chromium (headless browser for the report tests)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; \
	fi

# The Kubernetes test bed (kubetestbed/): kube-apiserver, kube-controller-manager,
# kube-scheduler and kwok built once with Go into the user cache (several minutes the first
# time, nothing after), plus Debian's etcd-server when missing (needs root or sudo).
.PHONY: kube-testbed kube-nodes
kube-testbed: install
	$(BIN)/python -m kubetestbed.build

# Real nodes for the kube_real tests: kubelet from the same k8s.io/kubernetes (about a
# minute more with a warm Go cache) and Debian's containerd, runc and CNI plugins.
kube-nodes: kube-testbed
	$(BIN)/python -m kubetestbed.build --nodes

# The pods' images without a registry (kubetestbed/images.py): kafkalab.local/kafka:<kafka
# version> (Debian + JRE by mmdebstrap, about a minute once, then seconds) and
# kafkalab.local/pause:<k8s version>, as OCI archives in the user cache. Debian's mmdebstrap,
# gcc and containerd (ctr, to import them) are installed when missing (root or sudo).
KUBE_IMAGE_TOOLS := mmdebstrap:mmdebstrap gcc:gcc ctr:containerd
.PHONY: kube-images
kube-images: kafka
	@missing=$$(for t in $(KUBE_IMAGE_TOOLS); do command -v $${t%%:*} >/dev/null 2>&1 || echo $${t#*:}; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian's $$missing (for the test bed's images)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing libc6-dev >/dev/null; \
	fi
	$(BIN)/python -m kubetestbed.images

# The flow runner image for the work-pool test (kubetestbed/runner_image.py):
# kafkalab.local/runner:<kafkalab version>, docker/runner.Dockerfile's content without a
# registry (mmdebstrap + wheels of this venv's versions; minutes once, then seconds).
.PHONY: kube-runner-image
kube-runner-image: kube-images
	$(BIN)/python -m kubetestbed.runner_image

bench: kafka
	$(BIN)/python bench/cluster_bringup.py
	$(BIN)/python bench/pipeline_overhead.py
	$(BIN)/python bench/server_latency.py
	$(BIN)/python bench/loadgen_throughput.py
	$(BIN)/python bench/histogram_merge.py

clean-venv:
	rm -rf $(VENV)

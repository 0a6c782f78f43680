"""The application layer: the `kafkalab` command and the Prefect server it manages. The
only part of kafkalab that may import Prefect and the flows."""

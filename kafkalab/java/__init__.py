"""Files for the JVMs kafkalab starts: the Maven pom of the Kafka jars, log4j2 configs."""

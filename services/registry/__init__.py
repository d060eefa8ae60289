"""Contract registry: a Confluent Schema Registry compatible REST subset and a validation endpoint."""

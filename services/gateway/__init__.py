"""The partner gateway: partners publish their native messages over HTTPS instead of Kafka."""

"""Names of the Kafka headers Passerelle adds beside the CloudEvents ones (``ce_*``, see ``envelope``)."""

from __future__ import annotations

CAUSE = "passerelle_cause"  # id of the input this output was made from (idempotence on restart)
REPLAY = "passerelle_replay"  # set by `dlq replay`: a deliberate second attempt, not a duplicate
SENDER = "passerelle_sender"  # partner that sent the original input
FIRST_LINE = "passerelle_premiere_ligne"  # line of the original file where a CSV piece starts
ERROR_PREFIX = "passerelle_error_"  # DLQ records: passerelle_error_code, _path, _rule, _message, ...
# A DLQ record that does not keep its input's bytes names the rule that forbade it here ("nir").
VALUE_WITHHELD = ERROR_PREFIX + "value_withheld"
# DLQ records are CloudEvents of their own: the original's ce_* and content-type are kept under this prefix.
ORIGINAL_PREFIX = "passerelle_original_"
CORRELATION_ID = "correlation_id"
TRACEPARENT = "traceparent"

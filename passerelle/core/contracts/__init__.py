"""The canonical contracts: Avro catalogue, wire codec, typed validation, compatibility."""

"""What both adapter services share: native → canonical (inbound), canonical → native (outbound)."""

"""Indicator match (``threat_match``) rules: threat mapping filters, matching, enrichments."""

"""QoE assurance: CMCD reports, per-minute KPIs, threshold alarms (TMF642)."""

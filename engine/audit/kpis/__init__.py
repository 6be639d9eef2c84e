"""The KPIs of an audit: the Delivery Plan KPIs over the period, and those read at the KPI date only (health
funding, charging)."""

"""Incidents: rules turn events into incidents, which responders are alerted to until resolved.

The shared vocabulary is in `hub.incidents.model`; rules and their matching in `rules`; the
store, the transactional outbox and the Apprise delivery worker in `outbox` and `delivery`.
"""

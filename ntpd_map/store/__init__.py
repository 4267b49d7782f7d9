"""Stores: one protocol (base.Store), an embedded SQLite backend and a PostGIS backend."""

from ntpd_map.store.base import IncidentQuery, Store, StoreUnavailable, WriteResult, open_store

__all__ = ["IncidentQuery", "Store", "StoreUnavailable", "WriteResult", "open_store"]

"""Rendered-footage helpers (MakeHuman body and rigs for synthetic test videos)."""

"""Shipped profile data (JSON); see README.md in this folder for how each file was made."""

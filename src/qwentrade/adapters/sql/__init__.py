"""adapters/sql"""

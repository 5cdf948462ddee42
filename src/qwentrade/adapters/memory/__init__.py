"""adapters/memory"""

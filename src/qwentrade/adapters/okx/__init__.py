"""adapters/okx"""

"""adapters/coinglass"""

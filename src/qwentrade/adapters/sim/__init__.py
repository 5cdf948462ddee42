"""adapters/sim"""

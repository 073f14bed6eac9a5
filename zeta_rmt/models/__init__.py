"""zeta_rmt.models"""

"""zeta_rmt.data"""

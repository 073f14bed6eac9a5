"""zeta_rmt.losses"""

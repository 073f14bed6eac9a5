"""zeta_rmt.loggers"""

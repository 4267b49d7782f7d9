"""ntpd-map: a GIS situational-awareness dashboard for Indonesia's NTPD 112 emergency call centers."""

__version__ = "0.1.0"

"""`ramp simulate`: the real engine on simulated time, against scripted or recorded metrics.

`run` steps the engine along a timeline and prints it; `plot` draws that timeline.
"""

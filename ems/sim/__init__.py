"""Carbon Cockpit plant digital twin (``ems.sim``).

A separate physical model of a demo group of factories, built only from published equipment
curves (see each module's docstrings for sources). The product never imports this package's
equations or state: it sees the twin only through

* historian-style CSV exports (:mod:`ems.sim.export`, ``ems sim generate``),
* the closed-loop API (:class:`ems.sim.twin.PlantTwin`, :func:`ems.sim.twin.run_policy`),
* live feeds (:mod:`ems.sim.live`, MQTT and OPC UA).

Everything here is synthetic. Label any figure derived from it as simulated.
"""

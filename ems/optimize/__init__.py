"""Setpoint optimiser: equipment models learned from meter history, problems, solvers, recommendations.

Modules (problem building is kept apart from solving):

* ``config``      plant-side settings an engineer enters: zone limits, nameplates, ranges, rate limits
* ``history``     meter history frames (closed-loop runs, historian exports) and data checks
* ``fit_chiller`` DOE-2 chiller curves, CHW pump, CW pump and tower models fitted from meters
* ``zone_model``  zone temperature / humidity / load response to the CHW supply temperature
* ``chw_problem`` / ``chw_solve`` / ``chw_control``  chilled-water plant problem, DP solver, closed loop
* ``fit_air`` / ``air_problem`` / ``air_control``  compressed-air models, MILP staging (HiGHS), policy
* ``storage``     battery and chilled-water / ice storage day-ahead LP (cvxpy / CLARABEL)
* ``storage_forecast``  day-ahead load / PV forecasts for it: same day type, peak envelope
* ``tariffs``     interval prices and realised cost through ``ems.analytics`` tariffs
* ``recommend`` / ``store`` / ``writeback``  recommendations, their lifecycle, OPC UA write-back
* ``closed_loop`` / ``evaluate`` / ``report``  closed-loop proof on the plant twin against named
  baseline policies, and ``docs/optimiser-results.md``
* ``cli``         ``ems optimize evaluate | recommend | accept | reject | list``
"""

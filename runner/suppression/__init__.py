"""Alert suppression (``[rule.alert_suppression]``): group alerts by fields, per execution or
over a duration, as Kibana's detection engine does.  The stage is
:func:`runner.suppression.stage.write_suppressed`."""

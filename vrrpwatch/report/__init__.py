"""The HTML report (the failover picture): ``html.render_html`` turns a run's report data
(``store.timeline.report_data``) into one self-contained page; ``html.write_report`` writes it.
Imports neither click nor sqlite_utils: store/ reads, cli/ parses, this package renders."""

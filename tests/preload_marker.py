"""A module no tool imports: a job finds it already loaded only when the fork server
its process came from preloaded it."""

#: The process whose ``ProcessProbe.warm_up`` ran with this module loaded, if any.
warmed_up_in: int | None = None

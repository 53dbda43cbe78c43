"""A module no tool imports: a job finds it already loaded only when the fork server
its process came from preloaded it."""

"""The Ray executor: function instances as Ray actors on the nodes of a Ray cluster that
advertise the resource `fnhost_node`. Every module here imports Ray; nothing outside this
package does, so only a process that selects FNHOST_EXECUTOR=ray ever loads it."""

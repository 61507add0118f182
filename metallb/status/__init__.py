"""What the daemons are doing, as the API objects users read with kubectl: pool counts,
ConfigurationState, the Service's AddressAssigned condition, ServiceBGPStatus and
BGPSessionState. Pure builders, no I/O: the daemons' adapters hand their results to a
`metallb.kube.status_queue.StatusQueue`, which writes them off the data path."""

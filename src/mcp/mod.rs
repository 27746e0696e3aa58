//! The MCP protocol: JSON-RPC messages, the protocol state machine and the transports.
//! Knows nothing of Kubernetes. OWNER: issue 2 (MCP core). Stub.

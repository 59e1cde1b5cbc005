"""keepalived.conf: the lexer, the model and the audit."""

Feature: Connecting to a coordinator
  A client names its coordinator as host:port, an http:// URL, a Unix socket
  or an environment variable; failing to reach it is a connection error that
  says where and why.

  Scenario: A client connects over TCP given host and port
    Given angzarr-local is serving the player domain
    When I connect to its address as host:port
    Then registering "Alice" through that client succeeds

  Scenario: A client connects over TCP given an http:// URL
    Given angzarr-local is serving the player domain
    When I connect to its address as an http:// URL
    Then registering "Alice" through that client succeeds

  Scenario: A client connects over a Unix socket given unix:/path
    Given angzarr-local is serving the player domain on a Unix socket
    When I connect to its socket as unix:/path
    Then registering "Alice" through that client succeeds

  Scenario: A client connects over a Unix socket given a bare path
    Given angzarr-local is serving the player domain on a Unix socket
    When I connect to its socket as a bare path
    Then registering "Alice" through that client succeeds

  @serial
  Scenario: A client takes its endpoint from an environment variable
    Given angzarr-local is serving the player domain
    And the environment variable ANGZARR_CONTRACTS_ENDPOINT holds its address
    When I connect through ANGZARR_CONTRACTS_ENDPOINT with the default "127.0.0.1:1"
    Then registering "Alice" through that client succeeds

  @serial
  Scenario: An unset environment variable means the default endpoint
    Given angzarr-local is serving the player domain
    And the environment variable ANGZARR_CONTRACTS_ENDPOINT is unset
    When I connect through ANGZARR_CONTRACTS_ENDPOINT with its address as the default
    Then registering "Alice" through that client succeeds

  Scenario: Connecting to a closed port is a retryable connection error naming the endpoint
    When I connect to a closed loopback port
    Then the error is a connection error
    And the error is retryable
    And the error reads as starting with "cannot connect to http://{closed}"

  Scenario: Connecting to a missing Unix socket is a connection error saying the file is missing
    When I connect to "unix:/tmp/angzarr-contracts-missing/ch-player.sock"
    Then the error is a connection error
    And the error message mentions "No such file or directory"

  Scenario: An endpoint that is not an address is refused with the forms it may take
    When I connect to "no port here"
    Then the error is a connection error
    And the error reads "cannot connect to no port here: expected host:port, http(s)://host:port, unix:/path or a socket path"

  Scenario: A lazy client connects on first use and reports an unreachable coordinator then
    When I connect lazily to a closed loopback port
    Then the connection succeeds
    And registering "Alice" through that client fails with a connection error

Feature: Command builder
  `client.command(domain, root)` builds a command book step by step and sends
  it, with defaults that are right for most commands.

  Background:
    Given angzarr-local is serving the player domain

  Scenario: A command without a message is refused before anything is sent
    When I build a command for "Alice" without a message
    Then the error is an invalid argument
    And the error message is "command not set"
    And the error was raised by the client, not by a server

  Scenario: A built command carries every option given to the builder
    When I build a DepositFunds of 10 chips for "Alice" at sequence 3 with correlation id "order-9" and merge strategy STRICT
    Then the built command names domain "player", the root of "Alice" and correlation id "order-9"
    And the built command's only page expects sequence 3 with merge strategy STRICT
    And the built command's only page carries a DepositFunds

  Scenario: By default a command expects sequence 0, merges commutatively and has a fresh correlation id
    When I build a RegisterPlayer for "Alice" twice
    Then the built command's only page expects sequence 0 with merge strategy COMMUTATIVE
    And the two built commands have different, non-empty correlation ids

  Scenario: A command at the aggregate's next sequence is stored at that sequence
    Given player "Alice" is registered
    When I deposit 10 chips for "Alice" expecting sequence 1
    Then the command succeeds with a FundsDeposited at sequence 1
    And the history of "Alice" is PlayerRegistered, FundsDeposited

  Scenario: A command for a new aggregate gets a fresh root
    When I register a player under a fresh root
    Then the command succeeds with a PlayerRegistered at sequence 0
    And the response's cover has a root that is not nil

  Scenario: A message packed by hand is sent as it is
    When I register "Alice" with a RegisterPlayer packed by hand
    Then the command succeeds with a PlayerRegistered at sequence 0

  Scenario: The correlation id given to the builder is stored with the events
    When I register "Alice" with correlation id "signup-1"
    Then the response's cover has correlation id "signup-1"

  Scenario: A command in a new edition is stored apart from the main timeline
    When I register "Alice" in edition "what-if"
    Then the command succeeds with a PlayerRegistered at sequence 0
    And the history of "Alice" in edition "what-if" is PlayerRegistered
    And the history of "Alice" is empty

Feature: Domain client
  One `DomainClient` sends commands, reads events and speculates over a single
  connection to the coordinator; clones share that connection.

  Background:
    Given angzarr-local is serving the player domain

  Scenario: One client sends commands and reads back what they stored
    When I register "Alice" and deposit 50 chips for her
    Then the history of "Alice" is PlayerRegistered, FundsDeposited
    And the bankroll of "Alice" is 50 chips

  Scenario: What a clone of a client stores, the original reads back
    When a clone of the client registers "Alice"
    Then the history of "Alice" is PlayerRegistered

  Scenario: The domain client hands out query and aggregate clients on its connection
    Given player "Alice" is registered
    When I read "Alice" with the domain client's query client
    And I deposit 5 chips for "Alice" with the domain client's aggregate client
    Then the book holds events 0
    And the command succeeds with a FundsDeposited at sequence 1

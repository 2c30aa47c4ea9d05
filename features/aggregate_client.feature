Feature: Aggregate client
  The aggregate client sends command books to the coordinator, which runs the
  domain's aggregate on the aggregate's history and stores what it decides.

  Background:
    Given angzarr-local is serving the player domain

  Scenario: Handling a command book stores the events the aggregate decides
    When the aggregate client handles a command book registering "Alice"
    Then the command succeeds with a PlayerRegistered at sequence 0
    And the response's next sequence is 1
    And the history of "Alice" is PlayerRegistered

  Scenario: A command request is answered with only the newly stored events
    Given player "Alice" is registered with deposits of 10, 20 and 30 chips
    When the aggregate client handles a command request depositing 25 chips for "Alice" with sync mode SIMPLE
    Then the command succeeds with a FundsDeposited at sequence 4
    And the response holds 1 event
    And the response's next sequence is 5

  Scenario: A fact is stored once however often it is delivered
    Given player "Alice" is registered
    When the aggregate client delivers the fact "bank-7" depositing 40 chips to "Alice"
    And the aggregate client delivers the fact "bank-7" depositing 40 chips to "Alice"
    Then the first delivery was stored and the second was already processed
    And the history of "Alice" is PlayerRegistered, FundsDeposited

  Scenario: A fact without an external id is refused with the rule it breaks
    Given player "Alice" is registered
    When the aggregate client delivers a fact without an external id to "Alice"
    Then the error is INVALID_ARGUMENT "Fact events must have ExternalDeferredSequence markers"
    And the history of "Alice" is PlayerRegistered

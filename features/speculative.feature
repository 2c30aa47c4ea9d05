Feature: Speculative execution
  A speculative command runs the aggregate on history as of a point in time
  and answers with what it would decide. Nothing is stored.

  Background:
    Given angzarr-local is serving the player domain
    And player "Alice" is registered with deposits of 10, 20 and 30 chips

  Scenario: A speculative command answers with the events it would store and stores nothing
    When I speculatively withdraw 50 chips from "Alice" as of sequence 3
    Then the speculation decides a FundsWithdrawn leaving 10 chips
    And the history of "Alice" is PlayerRegistered, FundsDeposited, FundsDeposited, FundsDeposited

  Scenario: Speculating as of an earlier sequence sees history only up to it
    When I speculatively withdraw 5 chips from "Alice" as of sequence 1
    Then the speculation decides a FundsWithdrawn leaving 5 chips

  Scenario: Speculating as of a time sees the events stored by then and none after
    When I speculatively withdraw 25 chips from "Alice" as of the time her event 2 was stored
    Then the speculation decides a FundsWithdrawn leaving 5 chips

  Scenario: A speculative command that breaks a rule is rejected and stores nothing
    When I speculatively withdraw 100 chips from "Alice" as of sequence 3
    Then the error is FAILED_PRECONDITION "Insufficient funds"
    And the history of "Alice" holds 4 events

  Scenario: The speculative client runs a command book against history at a point
    When the speculative client runs a deposit of 7 chips for "Alice" as of sequence 2
    Then the speculation decides a FundsDeposited leaving 37 chips
    And the history of "Alice" holds 4 events

  Scenario: A speculative request without a point in time is refused
    When the speculative client runs a deposit of 7 chips for "Alice" with no point in time
    Then the error is INVALID_ARGUMENT "Speculative requires either as_of_sequence or as_of_timestamp"

Feature: Upcasting loaded history
  Events stored by an older version stay as they were stored; a domain's
  upcaster turns them into today's events whenever history is loaded for a
  command. Queries show what is stored.

  Scenario: Without an upcaster the aggregate does not know the old event
    Given angzarr-local runs the player aggregate with the ledger projector
    And "Alice" was registered and given 50 chips by an older version
    When I withdraw 30 chips from "Alice" expecting sequence 2
    Then the error is FAILED_PRECONDITION "Insufficient funds"

  Scenario: The upcaster lets the aggregate decide on the old event
    Given angzarr-local runs the player aggregate with the old-deposit upcaster
    And "Alice" was registered and given 50 chips by an older version
    When I withdraw 30 chips from "Alice" expecting sequence 2
    Then the command succeeds with a FundsWithdrawn at sequence 2
    And the withdrawal left 20 chips
    And the history of "Alice" is PlayerRegistered, OldDeposit, FundsWithdrawn

Feature: Merge strategies and sequence conflicts
  Every command says which sequence it expects the aggregate to be at. The
  coordinator refuses a stale expectation unless the merge strategy leaves
  it to the aggregate; the client can retry at the sequence the conflict
  reports.

  Background:
    Given angzarr-local is serving the player domain
    And player "Alice" is registered with deposits of 10 chips

  Scenario Outline: <strategy> refuses a stale expected sequence and returns the current events
    When I deposit 5 chips for "Alice" expecting sequence 1 with merge strategy <strategy>
    Then the error is FAILED_PRECONDITION "Sequence mismatch: command expects 1, aggregate at 2"
    And the error is a sequence conflict
    And the error's current event book holds the snapshot at sequence 1 and next sequence 2
    And the history of "Alice" holds 2 events

    Examples:
      | strategy    |
      | STRICT      |
      | COMMUTATIVE |
      | MANUAL      |

  Scenario: An expected sequence ahead of the aggregate is refused too
    When I deposit 5 chips for "Alice" expecting sequence 9 with merge strategy STRICT
    Then the error is FAILED_PRECONDITION "Sequence mismatch: command expects 9, aggregate at 2"

  Scenario: AGGREGATE_HANDLES stores at the next sequence whatever was expected
    When I deposit 5 chips for "Alice" expecting sequence 0 with merge strategy AGGREGATE_HANDLES
    Then the command succeeds with a FundsDeposited at sequence 2
    And the bankroll of "Alice" is 15 chips

  Scenario: Retrying rebuilds a stale command at the sequence the conflict reports
    When I deposit 5 chips for "Alice" expecting sequence 0, retrying up to 3 times
    Then the command succeeds with a FundsDeposited at sequence 2

  Scenario: Retrying gives up after its attempts and returns the last conflict
    When I deposit 5 chips for "Alice" expecting sequence 0, retrying up to 1 time
    Then the error is a sequence conflict

  Scenario: Concurrent writers to one aggregate all land, in order, without gaps
    When 8 clients each deposit 1 chip for "Alice" 5 times, retrying conflicts
    Then the history of "Alice" holds sequences 0 to 41 without gaps
    And the bankroll of "Alice" is 50 chips

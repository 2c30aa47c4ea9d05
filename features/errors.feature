Feature: Error handling
  Every failure is one `ClientError`. Its code and message say what went
  wrong; its predicates tell a caller what to do next.

  Background:
    Given angzarr-local is serving the player domain
    And player "Alice" is registered

  Scenario: A broken business rule is a FAILED_PRECONDITION rejection with the rule's message
    When I withdraw 5 chips from "Alice" expecting sequence 1
    Then the error is FAILED_PRECONDITION "Insufficient funds"
    And the error is a rejection
    And the error is not a sequence conflict
    And the error is not retryable
    And the error reads "Insufficient funds (FailedPrecondition)"

  Scenario: Each rule of the player rejects with its own message
    When I register "Alice" again
    Then the error is FAILED_PRECONDITION "Player already exists"
    When I deposit 0 chips for "Alice" expecting sequence 1
    Then the error is FAILED_PRECONDITION "amount must be positive"
    When I release the reservation of "Alice" for table "T1" expecting sequence 1
    Then the error is FAILED_PRECONDITION "No funds reserved for this table"
    When I deposit 10 chips for "Nobody" expecting sequence 0
    Then the error is FAILED_PRECONDITION "Player does not exist"

  Scenario: A stale sequence is a retryable conflict carrying the aggregate's current events
    When I deposit 5 chips for "Alice" expecting sequence 0 with merge strategy STRICT
    Then the error is FAILED_PRECONDITION "Sequence mismatch: command expects 0, aggregate at 1"
    And the error is a sequence conflict
    And the error is retryable
    And the error is not a rejection
    And the error's current event book holds the snapshot at sequence 0 and next sequence 1

  Scenario: A domain nobody serves is NOT_FOUND naming the domains that are served
    When I deposit 5 chips in domain "hand" for "Alice"
    Then the error is not found
    And the error message mentions "hand"
    And the error message mentions "player"

  Scenario: An invalid domain name is INVALID_ARGUMENT with the rule it breaks
    When I deposit 5 chips in domain "Player" for "Alice"
    Then the error is INVALID_ARGUMENT "domain name must start with lowercase letter"
    And the error is an invalid argument
    And the error is not retryable

  Scenario: An invalid correlation id is INVALID_ARGUMENT with the rule it breaks
    When I register "Bob" with correlation id "a b"
    Then the error is INVALID_ARGUMENT "correlation_id contains invalid characters (allowed: a-zA-Z0-9_-)"

  Scenario: A call that outlives its deadline is DEADLINE_EXCEEDED
    Given a client whose calls time out after 100 ms
    When that client sends a command to the slow domain
    Then the error is deadline exceeded
    And the error is not a rejection

  Scenario: A coordinator that goes away is a retryable connection error
    When angzarr-local stops
    And I deposit 5 chips for "Alice" expecting sequence 1
    Then the error is a connection error
    And the error is retryable

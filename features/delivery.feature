Feature: Delivery to sagas, process managers and projectors
  After every write, angzarr-local hands the book of the newly stored pages
  to every consumer of its domain through a durable outbox: in the order the
  books were written, at least once, retried while a consumer is down, and
  resumed after a restart. A saga's commands run on their target with the
  source's correlation id; the target stamps their sequences.

  Scenario Outline: A registration reaches the saga and the projector, <where>
    Given angzarr-local runs the player aggregate with the welcome saga and the ledger projector <where>
    When I register "Alice" with correlation id "signup-1"
    Then the ledger receives the books of "Alice": PlayerRegistered at 0, FundsDeposited at 1
    And the history of "Alice" is PlayerRegistered, FundsDeposited
    And the ledger's book of "Alice" at sequence 1 has correlation id "signup-1"

    Examples:
      | where      |
      | in process |
      | over gRPC  |

  Scenario: Each book reaches the projector once, in the order it was written
    Given angzarr-local runs the player aggregate with the ledger projector
    When I register "Alice" and deposit 5 chips for her
    And I deposit 7 chips for "Alice" expecting sequence 2
    Then the ledger receives the books of "Alice": PlayerRegistered at 0, FundsDeposited at 1, FundsDeposited at 2
    And once delivery settles, the ledger has received 3 books

  Scenario: A projector that is down gets every book when it is back
    Given angzarr-local runs the player aggregate with the ledger projector
    And the ledger projector fails its next 4 calls
    When I register "Alice" and deposit 5 chips for her
    And I register "Bob" with correlation id "late"
    Then the ledger receives the books of "Alice": PlayerRegistered at 0, FundsDeposited at 1
    And the ledger receives the books of "Bob": PlayerRegistered at 0
    And the ledger was called at least 7 times

  Scenario: Delivery resumes where it stopped after angzarr-local restarts
    Given angzarr-local runs the player aggregate with the welcome saga and the ledger projector over gRPC
    And the ledger projector holds every book
    When I register "Alice" with correlation id "before-restart"
    And I register "Bob" with correlation id "before-restart"
    And angzarr-local restarts on the same database
    And the ledger projector lets the books through
    Then the ledger has received every book of "Alice" up to sequence 1
    And the ledger has received every book of "Bob" up to sequence 1
    And the history of "Alice" is PlayerRegistered, FundsDeposited

  Scenario: A process manager's own events are published like any other
    Given angzarr-local runs the player aggregate with the audit process manager and the ledger projector
    When I register "Alice" with correlation id "audit-1"
    Then the ledger receives the workflow "audit-1": AuditOpened at 0

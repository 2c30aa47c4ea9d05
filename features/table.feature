Feature: The poker table
  The table aggregate follows the rules Angzarr's examples implement in
  every language (shared/examples/table-rules.md): the same checks in the
  same order, each refusal FAILED_PRECONDITION with the same message, the
  same events. Here it is served over gRPC behind angzarr-local.

  Background:
    Given the poker system is running

  Scenario: Opening a table fills in the buy-ins and the timeout
    When I open table "Main" with blinds 5/10 for 6 players
    Then the table event is TableCreated with buy-ins 200 to 1000 and a 30 s timeout

  Scenario: Given buy-ins are kept, even negative ones
    When I open table "Odd" with blinds 5/10 for 6 players and buy-ins -3 to -7
    Then the table event is TableCreated with buy-ins -3 to -7 and a 30 s timeout

  Scenario: A table opens once
    Given table "Main" is open for 4 players with buy-ins 200 to 1000
    When I open table "Main" with blinds 5/10 for 6 players
    Then the error is FAILED_PRECONDITION "Table already exists"

  Scenario Outline: Opening a table checks <what>
    When I open table "<name>" with blinds <small>/<big> for <seats> players
    Then the error is FAILED_PRECONDITION "<message>"

    Examples:
      | what              | name | small | big | seats | message                               |
      | the name          |      | 5     | 10  | 6     | table_name is required                |
      | the small blind   | T    | 0     | 10  | 6     | small_blind must be positive          |
      | the big blind     | T    | 5     | 0   | 6     | big_blind must be positive            |
      | the blinds' order | T    | 5     | 4   | 6     | big_blind must be >= small_blind      |
      | too few seats     | T    | 5     | 10  | 1     | max_players must be between 2 and 10  |
      | too many seats    | T    | 5     | 10  | 11    | max_players must be between 2 and 10  |

  Scenario: Nobody joins a table that does not exist
    When "Alice" joins "Nowhere" with 500 chips
    Then the error is FAILED_PRECONDITION "Table does not exist"

  Scenario: A player sits at a table once
    Given table "Main" is open for 4 players with buy-ins 200 to 1000
    And "Alice" sits at "Main" with 500 chips
    When "Alice" joins "Main" with 500 chips
    Then the error is FAILED_PRECONDITION "Player already seated at table"

  Scenario: A full table takes nobody else, and says so before the buy-in is checked
    Given table "Main" is open for 2 players with buy-ins 200 to 1000
    And "Alice" sits at "Main" with 500 chips
    And "Bob" sits at "Main" with 500 chips
    When "Carol" joins "Main" with 5 chips
    Then the error is FAILED_PRECONDITION "Table is full"

  Scenario Outline: The buy-in must be within the table's limits (<amount> chips)
    Given table "Main" is open for 4 players with buy-ins 200 to 1000
    When "Alice" joins "Main" with <amount> chips
    Then the error is FAILED_PRECONDITION "<message>"

    Examples:
      | amount | message                      |
      | 199    | Buy-in must be at least 200  |
      | 1001   | Buy-in cannot exceed 1000    |

  Scenario: A preferred seat that is taken is refused
    Given table "Main" is open for 4 players with buy-ins 200 to 1000
    And "Alice" sits at "Main" in seat 2 with 500 chips
    When "Bob" joins "Main" in seat 2 with 500 chips
    Then the error is FAILED_PRECONDITION "Seat is occupied"

  Scenario Outline: The seat a player gets (preferring seat <preferred>)
    Given table "Main" is open for 4 players with buy-ins 200 to 1000
    And "Alice" sits at "Main" in seat 0 with 500 chips
    When "Bob" joins "Main" in seat <preferred> with 300 chips
    Then the table event is PlayerJoined in seat <seat> with 300 chips
    And "Bob" sits in seat <seat> at "Main" with 300 chips

    Examples:
      | preferred | seat |
      | 3         | 3    |
      | 4         | 1    |
      | -1        | 1    |

  Scenario: Seat 0 preferred while taken gives the lowest free seat, not a refusal
    Given table "Main" is open for 4 players with buy-ins 200 to 1000
    And "Alice" sits at "Main" in seat 0 with 500 chips
    When "Bob" joins "Main" in seat 0 with 300 chips
    Then the table event is PlayerJoined in seat 1 with 300 chips

  Scenario: Players may join while a hand is played
    Given table "Main" is open for 4 players with buy-ins 200 to 1000
    And "Alice" sits at "Main" with 500 chips
    And "Bob" sits at "Main" with 500 chips
    And a hand is being played at "Main"
    When "Carol" joins "Main" with 300 chips
    Then the table event is PlayerJoined in seat 2 with 300 chips

  Scenario: Leaving cashes out the stack
    Given table "Main" is open for 4 players with buy-ins 200 to 1000
    And "Alice" sits at "Main" in seat 3 with 700 chips
    When "Alice" leaves "Main"
    Then the table event is PlayerLeft from seat 3 cashing out 700 chips

  Scenario: Only a seated player leaves
    Given table "Main" is open for 4 players with buy-ins 200 to 1000
    When "Alice" leaves "Main"
    Then the error is FAILED_PRECONDITION "Player is not seated at table"

  Scenario: Nobody leaves during a hand
    Given table "Main" is open for 4 players with buy-ins 200 to 1000
    And "Alice" sits at "Main" with 500 chips
    And "Bob" sits at "Main" with 500 chips
    And a hand is being played at "Main"
    When "Alice" leaves "Main"
    Then the error is FAILED_PRECONDITION "Cannot leave table during a hand"

  Scenario: Not being seated is said before the hand in progress
    Given table "Main" is open for 4 players with buy-ins 200 to 1000
    And "Alice" sits at "Main" with 500 chips
    And "Bob" sits at "Main" with 500 chips
    And a hand is being played at "Main"
    When "Carol" leaves "Main"
    Then the error is FAILED_PRECONDITION "Player is not seated at table"

  Scenario: A hand needs two players
    Given table "Main" is open for 4 players with buy-ins 200 to 1000
    And "Alice" sits at "Main" with 500 chips
    When a hand starts at "Main"
    Then the error is FAILED_PRECONDITION "Not enough players to start hand"

  Scenario: One hand at a time
    Given table "Main" is open for 4 players with buy-ins 200 to 1000
    And "Alice" sits at "Main" with 500 chips
    And "Bob" sits at "Main" with 500 chips
    And a hand is being played at "Main"
    When a hand starts at "Main"
    Then the error is FAILED_PRECONDITION "Hand already in progress"

  Scenario: The first dealer is the second-lowest seat; heads-up, the dealer posts the small blind
    Given table "Main" is open for 4 players with buy-ins 200 to 1000
    And "Alice" sits at "Main" in seat 2 with 500 chips
    And "Bob" sits at "Main" in seat 3 with 500 chips
    When a hand starts at "Main"
    Then hand 1 starts with the dealer in seat 3 and the blinds in seats 3 and 2
    And the hand's root is the UUIDv5 of "angzarr.poker.hand.table_Main.1"

  Scenario: The button and the blinds move as the reference moves them
    Given table "Main" is open for 6 players with buy-ins 200 to 1000
    And "Alice" sits at "Main" in seat 2 with 500 chips
    And "Bob" sits at "Main" in seat 4 with 500 chips
    When hand after hand is played at "Main", "Carol" sitting down in seat 0 after the first
    Then the dealers and blinds were 4/4/2, 0/2/4, 2/4/0 and 4/0/2

  Scenario: The winner's stack grows by the pot; the loser's is not debited
    Given table "Main" is open for 4 players with buy-ins 200 to 1000
    And "Alice" sits at "Main" with 500 chips
    And "Bob" sits at "Main" with 500 chips
    And a hand is being played at "Main"
    When the hand at "Main" ends with "Alice" winning 40
    Then "Alice" sits in seat 0 at "Main" with 540 chips
    And "Bob" sits in seat 1 at "Main" with 500 chips

  Scenario: A hand ends only while one is played
    Given table "Main" is open for 4 players with buy-ins 200 to 1000
    When the hand at "Main" ends with "Alice" winning 40
    Then the error is FAILED_PRECONDITION "No hand in progress"

  Scenario: A hand ends only with its own root
    Given table "Main" is open for 4 players with buy-ins 200 to 1000
    And "Alice" sits at "Main" with 500 chips
    And "Bob" sits at "Main" with 500 chips
    And a hand is being played at "Main"
    When the hand at "Main" ends with the root of another hand
    Then the error is FAILED_PRECONDITION "Hand root mismatch"

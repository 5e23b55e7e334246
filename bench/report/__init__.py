"""What is read out of finished run folders: the leaderboard (markdown, figures), the paper's logged numbers,
Kaggle submissions."""
